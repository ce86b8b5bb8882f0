# attack: sleep far past the time limit (no CPU used, so no CPU limit helps)
# expect: exe_error
import time


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    time.sleep(3600)
    return [opening]
