# attack: kill every process it may signal (kill -1), the host and pytest included if it could
# expect: result_error exe_error
# needs: user
import os, signal


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for target in (__HOST_PID__, -1):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    return [opening]
