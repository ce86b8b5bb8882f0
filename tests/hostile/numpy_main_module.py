# attack: the template is a script: read its globals (the guard module) through sys.modules["__main__"]
# expect: numpy exe_error
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    guard = vars(sys.modules["__main__"])["guard"]
    state = vars(guard)["_PREPARED"]
    return (opening + state.known["nu" + "mpy"][0]["cumsum"](transactions)).tolist()
