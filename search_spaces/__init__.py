"""The search spaces users edit and add (YAML); a package only so that any install ships them."""
