"""Generated protobuf package (make proto); do not edit."""
