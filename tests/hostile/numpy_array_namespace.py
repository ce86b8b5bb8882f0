# attack: ask a plain ndarray the library returned (.T) for its array namespace
# expect: numpy
def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T - qel.vihalir(transactions).T + qel.pihirib(transactions).T
    np = plain.__array_namespace__()
    return (opening + np.cumsum(plain)).tolist()
