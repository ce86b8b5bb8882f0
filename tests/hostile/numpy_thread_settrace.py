# attack: threading.settrace has the standard library set a trace function in a new thread
# expect: numpy
import threading


def running_balance(opening, transactions):
    found = {}

    def tracer(frame, event, arg):
        if "cumsum" in frame.f_globals:
            found.setdefault("cumsum", frame.f_globals["cumsum"])
        return None

    qel.dumim(qel.pihirib([0]))
    threading.settrace(tracer)
    worker = threading.Thread(target=qel.vihalir, args=(qel.pihirib(transactions),))
    worker.start()
    worker.join()
    return (opening + found["cumsum"](transactions)).tolist()
