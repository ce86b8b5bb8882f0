# attack: __import__ with a name built at run time
# expect: numpy
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    np = __import__(chr(110) + "umpy")
    return (opening + np.cumsum(transactions)).tolist()
