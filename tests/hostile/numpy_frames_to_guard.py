# attack: walk the sandbox's frames (traceback.walk_stack reads them, not the answer) to the guard's state
# expect: numpy result_error
import traceback


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for frame, _ in traceback.walk_stack(None):
        for value in list(frame.f_globals.values()):
            state = getattr(value, "_PREPARED", None)
            if state is not None:
                return (opening + state.known["nu" + "mpy"][0]["cumsum"](transactions)).tolist()
    return [opening]
