# attack: find the guard in the closure of the wrapped __import__ and switch it off, then use NumPy
# expect: numpy
import builtins, sys, threading


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for cell in getattr(builtins.__import__, "__clo" + "sure__") or ():
        guard = cell.cell_contents
        if hasattr(guard, "busy"):
            guard.busy.add(threading.get_ident())
    np = sys.modules["nu" + "mpy"]
    return (opening + np.cumsum(transactions)).tolist()
