# attack: give NumPy's guarded module class back the plain module attribute look-up
# expect: numpy exe_error
import sys, types


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    np = sys.modules[type(plain).__module__]
    type(np).__getattribute__ = types.ModuleType.__getattribute__
    return (opening + np.cumsum(transactions)).tolist()
