# The master's locustfile for examples/users. The class name must match the
# Go worker's boomer.UserClass Name: the master dispatches users by class
# name, and the Go worker runs its class of that name. The Python body never
# runs on the master.
from locust import User, between, task


class WebsiteUser(User):
    wait_time = between(0.5, 2)

    @task
    def noop(self):
        pass
