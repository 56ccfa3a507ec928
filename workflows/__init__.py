"""Domain, in two rooms: `bpmn` (the engine: process definitions, validation, the sandbox, DMN, instances, timers)
below, and `cases` (applications, tasks, 一件事 bundles, the catalogue, the clock, materials, ratings, statistics,
policies, proxies, notifications, the worker) above it. `cases` imports `bpmn`; `bpmn` never imports `cases`."""
