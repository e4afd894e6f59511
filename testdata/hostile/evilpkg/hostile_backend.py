"""A PEP 517 build backend that marks that it was imported: pip imports it
to build evilpkg (or the project root, whose pyproject.toml names it) from
source. Then every hook fails, so no build goes further."""

import hostile_marker

hostile_marker.mark("backend")


def _refuse(*args, **kwargs):
    raise RuntimeError("hostile build backend: this project must never be built")


get_requires_for_build_wheel = _refuse
get_requires_for_build_editable = _refuse
get_requires_for_build_sdist = _refuse
prepare_metadata_for_build_wheel = _refuse
prepare_metadata_for_build_editable = _refuse
build_wheel = _refuse
build_editable = _refuse
build_sdist = _refuse
