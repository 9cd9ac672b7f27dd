"""What ``s3vp run`` needs to run a synthesized pipeline on this machine: the cloud assembly reader, the CodeBuild
emulation and the stand-in ``aws`` put first on each build's PATH."""
