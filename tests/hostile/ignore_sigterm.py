# attack: ignore SIGTERM (and SIGINT, SIGHUP) and loop forever
# expect: exe_error
import signal


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    while True:
        pass
    return [opening]
