"""ImageNet-paste: an accessory cut out and pasted onto ImageNet images, chosen by PMI stratum."""
