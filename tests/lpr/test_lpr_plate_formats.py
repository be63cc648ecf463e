"""Plate formats by configuration: lengths and patterns per region, checked at load time."""

from __future__ import annotations

import pytest
from vms_plugin_lpr.plates import PlateFormats
from vms_plugin_lpr.settings import LprSettings
from vms_sdk.errors import ConfigError


@pytest.mark.parametrize("plate", ["ABC1234", "7XYZ123", "AB12CDE", "KA05MN4321", "AB12"])
def test_default_formats_take_4_to_10_characters_with_letters_and_digits(plate: str) -> None:
    match = LprSettings.parse({}).formats().fit(plate)
    assert match is not None and match.plate == plate and match.fixes == 0


@pytest.mark.parametrize("text", ["A1B", "KA05MN43210", "MAINST", "12345678", ""])
def test_default_formats_refuse_too_short_too_long_words_and_numbers(text: str) -> None:
    assert LprSettings.parse({}).formats().fit(text) is None


def test_a_region_list_takes_only_its_formats_and_names_the_region() -> None:
    formats = LprSettings.parse(
        {
            "plate_formats": {
                "us": ["[A-Z]{3}[0-9]{4}", "[0-9][A-Z]{3}[0-9]{3}"],
                "in": ["[A-Z]{2}[0-9]{1,2}[A-Z]{1,3}[0-9]{4}"],
            }
        }
    ).formats()
    us, india = formats.fit("7XYZ123"), formats.fit("KA05MN4321")
    assert us is not None and us.region == "us"
    assert india is not None and india.region == "in"
    assert formats.fit("AB12CDE") is None  # a UK plate is not expected here


def test_a_lookalike_character_is_repaired_where_the_format_says_letter_or_digit() -> None:
    formats = PlateFormats({"uk": ["[A-Z]{2}[0-9]{2}[A-Z]{3}"]})
    match = formats.fit("A812CDE")  # B read as 8
    assert match is not None and match.plate == "AB12CDE" and match.fixes == 1
    assert formats.fit("A812CDE", repair=False) is None
    assert formats.fit("XXXXXXX") is None  # no digit: a word, never repaired into a plate


@pytest.mark.parametrize(
    ("formats", "key", "message"),
    [
        ({"us": ["[A-Z"]}, "plate_formats.us[0]", "not a regular expression"),
        ({"us": ["[A-Z]{3}", "x*"]}, "plate_formats.us[1]", "matches an empty plate"),
        ({"us": []}, "plate_formats.us", "at least one pattern"),
        ({}, "plate_formats", "at least one region"),
    ],
)
def test_a_bad_format_is_refused_naming_the_region_and_pattern(
    formats: dict[str, list[str]], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        LprSettings.parse({"plate_formats": formats})
    assert caught.value.key == key and message in str(caught.value)
