"""The activity and its files: format readers (`formats/`: FIT, GPX, TCX, archives, Strava and Garmin
exports), writers (FIT, GPX), the compact stream codec, route drawing and the activity JSON shape. Pure: no
database."""
