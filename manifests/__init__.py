"""The JSON Schemas of a record, a failure and a plan, shipped as package data (`synthfake.manifests`,
`synthfake.schemas.packaged_schema`); `python -m synthfake.schemas manifests/` writes them from the models."""
