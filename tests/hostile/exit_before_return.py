# attack: leave with status 0 before returning, hoping that a clean exit counts as success
# expect: exe_error
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    os._exit(0)
    return [opening]
