"""The engine room: process definitions and their validation, the sandbox, DMN, instances and timers. Imports
nothing from `workflows.cases`; acting on an instance returns the step for the case layer to follow."""
