# The master's locustfile for Go workers. The master only needs a user class
# to dispatch: it sends each worker a target count for every class it defines,
# and the Go worker runs its own tasks for those users. This class never runs
# in the master.
from locust import User, constant, task


class Dummy(User):
    wait_time = constant(1)

    @task
    def noop(self):
        pass
