# attack: read the code behind a NumPy function through dis (a standard library reader) for what it calls
# expect: numpy
import dis, sys


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    np = sys.modules[type(plain).__module__]
    inner = getattr(object.__getattribute__(np, "cumsum"), "__wrapped__")
    for instruction in dis.get_instructions(inner):
        if callable(instruction.argval) and getattr(instruction.argval, "__name__", "") == "cumsum":
            return (opening + instruction.argval(transactions)).tolist()
    return [opening]
