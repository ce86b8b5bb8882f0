# attack: take a NumPy module's namespace through the module type's own __dict__ descriptor
# expect: numpy
import sys, types


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    np = sys.modules[type(plain).__module__]
    namespace = vars(types.ModuleType)["__di" + "ct__"].__get__(np)
    return (opening + namespace["cumsum"](transactions)).tolist()
