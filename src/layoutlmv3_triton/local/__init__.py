"""Running the real tritonserver from the nvidia-pytriton wheel on loopback, and
supervising it (health, stub processes, memory).

May import: ``contract``, ``errors``, ``repository`` (repository checks).
"""
