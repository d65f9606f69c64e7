"""The lab fleet: isolated SSH hosts in namespaces on this machine, for tests, demos and benchmarks."""
