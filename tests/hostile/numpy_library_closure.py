# attack: dig NumPy (or its functions) out of the cells of the library functions' closures
# expect: numpy
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for cell in getattr(qel.vihalir, "__clo" + "sure__"):
        value = cell.cell_contents
        if hasattr(value, "cumsum"):
            return (opening + value.cumsum(transactions)).tolist()
        if callable(value) and getattr(value, "__name__", "") == "cumsum":
            return (opening + value(transactions)).tolist()
    return [opening]
