"""What the Docker images need from the package: the pip constraints they install under
(``constraints``, standard library only) and the build-time checks that fail an image build
instead of its first user (``checks``).

May import: ``contract``, ``errors``, ``serving``, ``training``, ``synth``.
"""
