"""The recipes shipped with synthfake, as package data (`synthfake.recipes`): `data/NAME.json` for
`gen run --recipe NAME`, `detector/NAME.json` for `gen detect train --recipe NAME` (synthfake.recipe reads them)."""
