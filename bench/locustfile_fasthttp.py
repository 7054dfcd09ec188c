# The Locust side of `make bench`: users that send GET / with FastHttpUser,
# Locust's fastest HTTP client, one request after another without waiting.
# The benchmark runs it in one process with --headless and --host.
from locust import FastHttpUser, constant, task


class BenchUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
