"""The cases room: what residents, approvers and officials handle (applications, tasks, 一件事 bundles, services,
the clock, materials, ratings, statistics, policies, proxies, notifications) and the worker that delivers their
events. Built on `workflows.bpmn`."""
