# attack: a plain array's __reduce__ names a NumPy C function, whose __self__ is NumPy's C module;
#   its ufuncs, read with the generic look-up and called, are C code the guard does not see
# expect: numpy
# residual: C-implemented NumPy callables reached past the module class (see sandbox/guard.py)
def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    core = plain.__reduce__()[0].__self__
    add = object.__getattribute__(core, "add")
    return add.accumulate([opening] + list(transactions))[1:].tolist()
