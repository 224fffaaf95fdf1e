#!/usr/bin/env python3
"""Draws Tocsin's app icon and one tray icon per state into icons/ (needs Pillow).

A tocsin is an alarm bell: the icon is a bell on a rounded square, and each tray
state gets its own colour and corner mark so it can be told apart at 22 px and
in greyscale (shape, not only colour).
"""
from pathlib import Path
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "icons"
OUT.mkdir(exist_ok=True)

def bell(draw, s, colour):
    # body
    draw.pieslice([s*0.22, s*0.16, s*0.78, s*0.80], 180, 360, fill=colour)
    draw.rectangle([s*0.22, s*0.47, s*0.78, s*0.70], fill=colour)
    draw.polygon([(s*0.14, s*0.74), (s*0.86, s*0.74), (s*0.78, s*0.66), (s*0.22, s*0.66)], fill=colour)
    # clapper and crown
    draw.ellipse([s*0.42, s*0.74, s*0.58, s*0.88], fill=colour)
    draw.ellipse([s*0.45, s*0.09, s*0.55, s*0.19], fill=colour)

def app_icon(size):
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, size - 1, size - 1], radius=size * 0.22, fill=(183, 28, 28, 255))
    inner = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    bell(ImageDraw.Draw(inner), size, (255, 244, 229, 255))
    inner = inner.resize((int(size * 0.8), int(size * 0.8)), Image.LANCZOS)
    img.alpha_composite(inner, (int(size * 0.1), int(size * 0.1)))
    return img

# state -> (bell colour, mark)
STATES = {
    "connected": ((46, 125, 50, 255), None),
    "reconnecting": ((245, 160, 0, 255), "ring"),
    "offline": ((120, 120, 120, 255), "slash"),
    "error": ((198, 40, 40, 255), "bang"),
    "paused": ((96, 125, 139, 255), "pause"),
    "urgent": ((211, 47, 47, 255), "dot"),
}

def tray_icon(colour, mark, size=64):
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    bell(d, size, colour)
    m = size
    if mark == "dot":
        d.ellipse([m*0.58, m*0.0, m*1.0, m*0.42], fill=(255, 255, 255, 255))
        d.ellipse([m*0.62, m*0.04, m*0.96, m*0.38], fill=(211, 47, 47, 255))
    elif mark == "slash":
        d.line([(m*0.1, m*0.1), (m*0.9, m*0.9)], fill=(40, 40, 40, 255), width=int(m*0.1))
    elif mark == "pause":
        d.rectangle([m*0.62, m*0.02, m*0.72, m*0.36], fill=(40, 40, 40, 255))
        d.rectangle([m*0.82, m*0.02, m*0.92, m*0.36], fill=(40, 40, 40, 255))
    elif mark == "ring":
        d.arc([m*0.56, m*0.0, m*1.0, m*0.44], 0, 300, fill=(40, 40, 40, 255), width=int(m*0.08))
    elif mark == "bang":
        d.ellipse([m*0.58, m*0.0, m*1.0, m*0.42], fill=(255, 255, 255, 255))
        d.rectangle([m*0.75, m*0.06, m*0.83, m*0.26], fill=(198, 40, 40, 255))
        d.rectangle([m*0.75, m*0.30, m*0.83, m*0.36], fill=(198, 40, 40, 255))
    return img

for size, name in [(32, "32x32.png"), (128, "128x128.png"), (256, "128x128@2x.png"), (512, "icon.png")]:
    app_icon(size).save(OUT / name)
app_icon(256).save(OUT / "icon.ico", sizes=[(16, 16), (32, 32), (48, 48), (256, 256)])
for state, (colour, mark) in STATES.items():
    tray_icon(colour, mark).save(OUT / f"tray-{state}.png")
print("icons written to", OUT)
