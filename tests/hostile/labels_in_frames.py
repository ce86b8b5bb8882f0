# attack: walk the parent frames (the runner, the template) and their globals for the expected outputs
# expect: result_error
import inspect


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    frame = inspect.currentframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for name, value in list(scope.items()):
                if name in ("expected", "labels", "right_exe_result", "outputs", "cases"):
                    return value
        frame = frame.f_back
    return [opening]
