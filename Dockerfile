# The grader in a container, for grading a whole class on one machine:
#   docker build -t llm-autograder .
#   docker run --rm --network none --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#       -v "$PWD/assignments:/class/assignments:ro" -v "$PWD/reports:/class/reports" \
#       llm-autograder /class/assignments --out /class/reports -j 2
# --network none: nothing in the container reaches the network. The two security options let
# bubblewrap create its namespaces inside the container (Docker's default seccomp profile forbids
# them); without them every kernel runs unsandboxed and every report says so.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/llm-autograder
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
COPY pyproject.toml README.md ./
COPY grader grader
COPY reference reference
COPY student_tests student_tests
RUN pip install --no-cache-dir . && rm -rf /opt/llm-autograder/*

RUN useradd --create-home --uid 1000 grader
USER grader
WORKDIR /class
ENTRYPOINT ["grade"]
CMD ["--help"]
