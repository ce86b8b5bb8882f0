# attack: take the guard's own module from sys.modules and read the NumPy namespaces it keeps
# expect: numpy exe_error
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    state = vars(sys.modules["guard"])["_PREPARED"]
    cumsum = state.known["nu" + "mpy"][0]["cumsum"]
    return (opening + cumsum(transactions)).tolist()
