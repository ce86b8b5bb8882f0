# attack: find the guard's class among object.__subclasses__() and its instance through gc referrers
# expect: numpy
import gc


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    guards = [cls for cls in object.__subclasses__() if cls.__name__ == "Guard"]
    for instance in gc.get_referrers(*guards):
        if hasattr(instance, "known"):
            return (opening + instance.known["nu" + "mpy"][0]["cumsum"](transactions)).tolist()
    return [opening]
