# attack: from a plain ndarray's type, find the module that defines it
# expect: numpy
import sys


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T - qel.vihalir(transactions).T + qel.pihirib(transactions).T
    np = sys.modules[type(plain).__module__]
    return (opening + np.cumsum(plain)).tolist()
