# attack: crash with a real segmentation fault (no ctypes needed)
# expect: exe_error
import faulthandler


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    faulthandler.disable()
    faulthandler._sigsegv()
    return [opening]
