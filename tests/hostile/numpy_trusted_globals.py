# attack: run code of its own in the globals of the sandbox's runner (found through inspect.stack())
# expect: numpy result_error
import inspect


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for info in inspect.stack():
        if "encode" in info.frame.f_globals and "Channel" in info.frame.f_globals:
            local = {"values": transactions}
            exec("import sys\nresult = sys.modules['nu' + 'mpy'].cumsum(values)", info.frame.f_globals, local)
            return (opening + local["result"]).tolist()
    return [opening]
