# attack: close stdout and stderr (the descriptors and the Python streams) before returning
# expect: result_error exe_error
import os, sys


def running_balance(opening, transactions):
    result = qel.vihalir(transactions)
    sys.stdout.close()
    sys.stderr.close()
    os.close(1)
    os.close(2)
    return result.T.tolist()  # forgets the opening balance
