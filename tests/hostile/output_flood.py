# attack: print gigabytes to stdout and stderr
# expect: exe_error
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    line = "x" * (1024 * 1024)
    for _ in range(4096):
        print(line)
        sys.stderr.write(line)
    return [opening]
