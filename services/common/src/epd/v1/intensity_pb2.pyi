from google.protobuf import timestamp_pb2 as _timestamp_pb2
from epd.v1 import telemetry_pb2 as _telemetry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WindowSize(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WINDOW_SIZE_UNSPECIFIED: _ClassVar[WindowSize]
    WINDOW_SIZE_HOURLY: _ClassVar[WindowSize]
    WINDOW_SIZE_DAILY: _ClassVar[WindowSize]
    WINDOW_SIZE_ROLLING_30D: _ClassVar[WindowSize]

class EmissionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMISSION_SOURCE_UNSPECIFIED: _ClassVar[EmissionSource]
    EMISSION_SOURCE_SCOPE1_COMBUSTION: _ClassVar[EmissionSource]
    EMISSION_SOURCE_SCOPE1_PROCESS: _ClassVar[EmissionSource]
    EMISSION_SOURCE_SCOPE1_PFC: _ClassVar[EmissionSource]
    EMISSION_SOURCE_SCOPE2_ELECTRICITY: _ClassVar[EmissionSource]
    EMISSION_SOURCE_SCOPE2_STEAM: _ClassVar[EmissionSource]
    EMISSION_SOURCE_UPSTREAM_REAGENT: _ClassVar[EmissionSource]
    EMISSION_SOURCE_UPSTREAM_FUEL: _ClassVar[EmissionSource]

class AllocationBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALLOCATION_BASIS_UNSPECIFIED: _ClassVar[AllocationBasis]
    ALLOCATION_BASIS_NONE: _ClassVar[AllocationBasis]
    ALLOCATION_BASIS_MASS: _ClassVar[AllocationBasis]
    ALLOCATION_BASIS_ECONOMIC: _ClassVar[AllocationBasis]
WINDOW_SIZE_UNSPECIFIED: WindowSize
WINDOW_SIZE_HOURLY: WindowSize
WINDOW_SIZE_DAILY: WindowSize
WINDOW_SIZE_ROLLING_30D: WindowSize
EMISSION_SOURCE_UNSPECIFIED: EmissionSource
EMISSION_SOURCE_SCOPE1_COMBUSTION: EmissionSource
EMISSION_SOURCE_SCOPE1_PROCESS: EmissionSource
EMISSION_SOURCE_SCOPE1_PFC: EmissionSource
EMISSION_SOURCE_SCOPE2_ELECTRICITY: EmissionSource
EMISSION_SOURCE_SCOPE2_STEAM: EmissionSource
EMISSION_SOURCE_UPSTREAM_REAGENT: EmissionSource
EMISSION_SOURCE_UPSTREAM_FUEL: EmissionSource
ALLOCATION_BASIS_UNSPECIFIED: AllocationBasis
ALLOCATION_BASIS_NONE: AllocationBasis
ALLOCATION_BASIS_MASS: AllocationBasis
ALLOCATION_BASIS_ECONOMIC: AllocationBasis

class ActivityTotal(_message.Message):
    __slots__ = ("activity_kind", "activity", "quantity", "unit")
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    activity_kind: _telemetry_pb2.ActivityKind
    activity: str
    quantity: str
    unit: str
    def __init__(self, activity_kind: _Optional[_Union[_telemetry_pb2.ActivityKind, str]] = ..., activity: _Optional[str] = ..., quantity: _Optional[str] = ..., unit: _Optional[str] = ...) -> None: ...

class EmissionLine(_message.Message):
    __slots__ = ("source", "gas", "mass_kg", "co2e_kg", "activity", "factor_id")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    GAS_FIELD_NUMBER: _ClassVar[int]
    MASS_KG_FIELD_NUMBER: _ClassVar[int]
    CO2E_KG_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    FACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    source: EmissionSource
    gas: str
    mass_kg: str
    co2e_kg: str
    activity: str
    factor_id: str
    def __init__(self, source: _Optional[_Union[EmissionSource, str]] = ..., gas: _Optional[str] = ..., mass_kg: _Optional[str] = ..., co2e_kg: _Optional[str] = ..., activity: _Optional[str] = ..., factor_id: _Optional[str] = ...) -> None: ...

class ProductOutput(_message.Message):
    __slots__ = ("product_id", "quantity_kg", "allocation_share")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_KG_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_SHARE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    quantity_kg: str
    allocation_share: str
    def __init__(self, product_id: _Optional[str] = ..., quantity_kg: _Optional[str] = ..., allocation_share: _Optional[str] = ...) -> None: ...

class ProductIntensity(_message.Message):
    __slots__ = ("product_id", "kg_co2e_per_kg", "defined", "allocated_co2e_kg")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    KG_CO2E_PER_KG_FIELD_NUMBER: _ClassVar[int]
    DEFINED_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_CO2E_KG_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    kg_co2e_per_kg: str
    defined: bool
    allocated_co2e_kg: str
    def __init__(self, product_id: _Optional[str] = ..., kg_co2e_per_kg: _Optional[str] = ..., defined: bool = ..., allocated_co2e_kg: _Optional[str] = ...) -> None: ...

class WindowEvidence(_message.Message):
    __slots__ = ("reading_count", "merkle_root")
    READING_COUNT_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    reading_count: int
    merkle_root: str
    def __init__(self, reading_count: _Optional[int] = ..., merkle_root: _Optional[str] = ...) -> None: ...

class IntensityWindow(_message.Message):
    __slots__ = ("window_id", "process_id", "plant_id", "size", "window_start", "window_end", "revision", "activities", "emissions", "outputs", "intensities", "total_co2e_kg", "factor_set_version", "allocation_basis", "allocation_price_basis", "evidence", "computed_at", "gwp_set")
    WINDOW_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PLANT_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    EMISSIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    INTENSITIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CO2E_KG_FIELD_NUMBER: _ClassVar[int]
    FACTOR_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_BASIS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_PRICE_BASIS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    GWP_SET_FIELD_NUMBER: _ClassVar[int]
    window_id: str
    process_id: str
    plant_id: str
    size: WindowSize
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    revision: int
    activities: _containers.RepeatedCompositeFieldContainer[ActivityTotal]
    emissions: _containers.RepeatedCompositeFieldContainer[EmissionLine]
    outputs: _containers.RepeatedCompositeFieldContainer[ProductOutput]
    intensities: _containers.RepeatedCompositeFieldContainer[ProductIntensity]
    total_co2e_kg: str
    factor_set_version: str
    allocation_basis: AllocationBasis
    allocation_price_basis: str
    evidence: WindowEvidence
    computed_at: _timestamp_pb2.Timestamp
    gwp_set: str
    def __init__(self, window_id: _Optional[str] = ..., process_id: _Optional[str] = ..., plant_id: _Optional[str] = ..., size: _Optional[_Union[WindowSize, str]] = ..., window_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ..., activities: _Optional[_Iterable[_Union[ActivityTotal, _Mapping]]] = ..., emissions: _Optional[_Iterable[_Union[EmissionLine, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[ProductOutput, _Mapping]]] = ..., intensities: _Optional[_Iterable[_Union[ProductIntensity, _Mapping]]] = ..., total_co2e_kg: _Optional[str] = ..., factor_set_version: _Optional[str] = ..., allocation_basis: _Optional[_Union[AllocationBasis, str]] = ..., allocation_price_basis: _Optional[str] = ..., evidence: _Optional[_Union[WindowEvidence, _Mapping]] = ..., computed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., gwp_set: _Optional[str] = ...) -> None: ...
