# attack: hide the import in a string run by exec
# expect: numpy
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    scope = {}
    exec("import nu" + "mpy as np\nresult = np.cumsum(values)", {"values": transactions}, scope)
    return (opening + scope["result"]).tolist()
