# attack: return an object that says it equals anything (and prints like a right answer)
# expect: result_error
class Anything(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    return Anything([opening])
