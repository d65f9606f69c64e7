"""itpm: IT projects as tracked rollouts: Ansible changes hosts, testinfra proves it, Prefect tracks it."""
