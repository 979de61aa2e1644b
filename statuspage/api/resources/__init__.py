"""The resources of the v1 API, one module each. A module holds its handlers (parse the
`Call`, look the rows up, call ONE service function, answer the JSON shape) and exports
`ROUTES`, its part of the route table; statuspage/api/routes.py puts the parts together."""
