# attack: reach NumPy through the globals of the library's own functions
# expect: numpy
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    scope = getattr(qel.vihalir, "__glob" + "als__")
    np = scope["sys"].modules["nu" + "mpy"]
    return (opening + np.cumsum(transactions)).tolist()
