# attack: allocate far more memory than the limit, in touched pieces
# expect: exe_error
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))
    return [opening]
