"""JSON request bodies: decoded strictly as their wire type, documented by that type's own
JSON Schema.

Litestar converts request bodies in msgspec's lax mode (`strict=False`: a unix timestamp
passes for a date-time, "12" for an integer), and its schema generation drops constraints
that msgspec enforces (the lengths of list items) and the discriminator of a tagged union.
A handler declared with `dto=StrictJSON[T]` gets `data` from
`msgspec.json.decode(body, type=T, strict=True)`, and `document` puts msgspec's JSON Schema
of `T` into the OpenAPI schema, so what the documentation promises and what the server
accepts come from one description.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec
from litestar import Request
from litestar.dto import AbstractDTO
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.spec import Discriminator, OpenAPIType, Reference, Schema

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto.data_structures import DTOFieldDefinition
    from litestar.typing import FieldDefinition

T = TypeVar("T")

_COMPONENT = "#/components/schemas/{name}"
# msgspec's error messages end with the path of the bad value: "... - at `$.papers[0].id`".
_AT = re.compile(r"^(?P<message>.*) - at `\$\.?(?P<key>.*)`$", re.DOTALL)


class StrictJSON(AbstractDTO[T]):
    """Decode a JSON request body strictly as `T` (a msgspec Struct) and document it as
    `documented` (`T` unless a subclass says otherwise).

    A 400 problem names the path of the first bad value, as Litestar's own validation
    errors do. Responses are not touched: they stay Litestar's to encode.
    """

    documented: ClassVar[type[msgspec.Struct] | None] = None

    @classmethod
    def schema_type(cls) -> type[msgspec.Struct]:
        """The type whose JSON Schema documents the body."""
        documented = cls.documented or cls.model_type
        if not (isinstance(documented, type) and issubclass(documented, msgspec.Struct)):
            raise TypeError(f"{cls.__name__} documents {documented!r}, not a msgspec Struct")
        return documented

    def decode_bytes(self, value: bytes) -> T:
        try:
            decoded: T = msgspec.json.decode(value, type=self.model_type, strict=True)
        except msgspec.ValidationError as exc:
            found = _AT.match(str(exc))
            message, key = (found["message"], found["key"]) if found else (str(exc), "")
            request = self.asgi_connection
            method = request.method if isinstance(request, Request) else ""
            raise ValidationException(
                detail=f"Validation failed for {method} {request.url.path}",
                extra=[{"message": message, "key": key, "source": "body"}],
            ) from exc
        except msgspec.DecodeError as exc:
            raise ClientException(detail=f"The request body is not valid JSON: {exc}") from exc
        return decoded

    # No transfer model and no field definitions: `decode_bytes` decodes the wire type.

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        return None

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def is_supported_model_type_field(cls, field_definition: FieldDefinition) -> bool:
        # Asked whether this DTO also encodes the handler's return value: never.
        return False

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference:
        return Reference(ref=_COMPONENT.format(name=cls.schema_type().__name__))


def document(app: Litestar) -> None:
    """Add the JSON Schema of every `StrictJSON` body (and of the types it refers to) to
    the app's OpenAPI components, where the request bodies' references point."""
    types = {
        dto.schema_type()
        for handler in _handlers(app)
        if isinstance(dto := handler.resolve_data_dto(), type) and issubclass(dto, StrictJSON)
    }
    _, definitions = msgspec.json.schema_components(
        sorted(types, key=lambda t: t.__name__), ref_template=_COMPONENT
    )
    components = app.openapi_schema.components
    schemas = components.schemas = dict(components.schemas or {})
    for name, definition in definitions.items():
        if name in schemas:
            raise RuntimeError(f"two OpenAPI components are named {name!r}")
        schemas[name] = _schema(definition)


def _handlers(app: Litestar) -> Iterable[Any]:
    for handlers in app.route_handler_method_map.values():
        yield from handlers.values()


_FIELDS = {**{name: name for name in Schema.__dataclass_fields__}, **Schema.field_aliases()}
_SUBSCHEMA = {"items", "additionalProperties", "not", "if", "then", "else", "contains"}
_SUBSCHEMAS = {"anyOf", "oneOf", "allOf", "prefixItems"}


def _subschema(definition: dict[str, Any]) -> Schema | Reference:
    if "$ref" in definition:
        return Reference(ref=definition["$ref"])
    return _schema(definition)


def _schema(definition: dict[str, Any]) -> Schema:
    """A JSON Schema (as msgspec writes one) as Litestar's OpenAPI objects."""
    fields: dict[str, Any] = {}
    for keyword, value in definition.items():
        converted: Any = value
        if keyword == "type":
            # A whole float (`multiple_of=1`: see `wire.TokenRequest`) is an integer to
            # JSON Schema, and documented as one.
            whole = value == "number" and definition.get("multipleOf") == 1
            converted = OpenAPIType("integer" if whole else value)
        elif keyword == "properties":
            converted = {name: _subschema(sub) for name, sub in value.items()}
        elif keyword in _SUBSCHEMA and isinstance(value, dict):
            converted = _subschema(value)
        elif keyword in _SUBSCHEMAS:
            converted = [_subschema(sub) for sub in value]
        elif keyword == "discriminator":
            converted = Discriminator(property_name=value["propertyName"], mapping=value["mapping"])
        # A keyword Litestar's Schema has no field for fails here, at start, not silently.
        fields[_FIELDS[keyword]] = converted
    return Schema(**fields)
