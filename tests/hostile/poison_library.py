# attack: monkeypatch the library (functions, array type, module table) so later answers go wrong
# expect: result_error exe_error
import sys


def running_balance(opening, transactions):
    result = qel.vihalir(transactions)
    qel.vihalir = lambda values: [0]
    qel.QELArray.__add__ = lambda self, other: [0]
    sys.modules["qel"] = None
    return result.T.tolist()  # forgets the opening balance
