# attack: read NumPy's function with the generic attribute look-up, past the module's own class
# expect: numpy
import sys


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    np = sys.modules[type(plain).__module__]
    cumsum = object.__getattribute__(np, "cumsum")
    return (opening + cumsum(transactions)).tolist()
