# attack: look through every loaded module (the template's __main__ included) for the labels
# expect: result_error
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for name, module in list(sys.modules.items()):
        if name.startswith("nu" + "mpy"):
            continue
        for key, value in list(vars(module).items()):
            if isinstance(value, str) and "#" in value and "[" in value:
                return value
    return [opening]
